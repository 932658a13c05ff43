//! sock_ops: put every established TCP socket of the cgroup into the SOCKHASH,
//! and take out again the ones that stay on TCP for good.
//!
//! ```text
//! switch (op) {
//! case ACTIVE_ESTABLISHED:  key = { snd_una - bytes_acked + 1, rcv_nxt, ACTIVE, 0 };  goto keyed;
//! case PASSIVE_ESTABLISHED: key = { rcv_nxt, snd_nxt, PASSIVE, 0 };
//! keyed:                                  // the same two numbers at both ends (see `key`)
//!     p = *map_lookup(&ports, &local_port) | *map_lookup(&ports, &be32(remote_port));  // 0 if absent
//!     if ((p & EXCLUDE) || ((config.port_flags & ONLY_LISTED) && !(p & INCLUDE))) { skipped++; return 1; }
//!     st = sk_storage_get(&sk_state, ctx->sk, 0, F_CREATE);   // "may redirect"
//!     if (st && st->mode != 0) return 1;  // already handled (program attached twice)
//!     if (!st) { failures++; return 1; }
//!     st->mode = IN_MAP; st->key = key; st->self = ctx->sk;   // (peer-aware: the address, as a number)
//!     if (peer-aware && ((struct tcp_sock *)ctx->sk)->repair) { st->mode = TCP_USED; repair_refused++; return 1; }
//!     info = { .flags = 0, .addr = ctx->sk, .cookie = get_socket_cookie(ctx), .netns = get_netns_cookie(ctx) };
//!     if (map_update(&sock_info, &key, &info, BPF_NOEXIST)) { failures++; return 1; }
//!     if (sock_hash_update(ctx, &sock_hash, &key, BPF_NOEXIST)) { map_delete(&sock_info, &key); failures++; return 1; }
//!     st->rtt_theirs = ctx->cb_flags & RTT_CB;     // another program's wish: keep it
//!     cb_flags_set(ctx, ctx->cb_flags | RTT_CB | STATE_CB); added++; return 1;
//! case RTT_CB:                           // an ACK: this socket sent bytes over TCP
//!     st = sk_storage_get(&sk_state, ctx->sk, 0, 0);
//!     if (st->mode != TCP_USED) return 1;   // may still redirect
//!     key = st->key; f = &map_lookup(&sock_info, &key)->flags;
//!     if (st->leave == PEER_PENDING) goto peer_leave;
//!     if (f && !(*f & RECEIVED) && !(fetch_or(f, LEAVING) & RECEIVED)) {
//!         map_delete(&sock_hash, &key); map_delete(&sock_info, &key); left++;
//!         st->leave = PEER_PENDING;                                     // (peer-aware)
//!     peer_leave:
//!         if (self->sk_user_data) return 1;            // our psock not gone yet: next ACK
//!         peer = map_lookup(&sock_info, &peer_key); if (!peer) goto leave_done;
//!         p = peer->addr->sk_user_data & ~7; if (!p) goto leave_done;
//!         next = p->ingress_msg.next; tot = p->msg_tot_len;
//!         if (peer->addr->sk_cookie != peer->cookie) goto leave_done;
//!         if ((peer->addr->sk_user_data & ~7) != p) return 1;
//!         if (next != &p->ingress_msg || tot) return 1;  // bytes queued for it: next ACK
//!         map_delete(&sock_hash, &peer_key); map_delete(&sock_info, &peer_key); left++;
//!     leave_done: st->leave = DONE;
//!     }
//!     if (!st->rtt_theirs) cb_flags_set(ctx, ctx->cb_flags & ~RTT_CB);   // decided for good
//!     return 1;
//! case STATE_CB:
//!     key = sk_storage_get(&sk_state, ctx->sk, 0, 0)->key;
//!     if (ctx->args[1] == TCP_CLOSE && map_lookup(&sock_info, &key)->cookie == get_socket_cookie(ctx))
//!         map_delete(&sock_info, &key);   // only our own entry
//! }
//! ```
//! The per-socket storage is created before the socket enters the map: the
//! sk_msg program runs only for sockets in the map and treats a socket
//! without storage as "stay on TCP". Likewise its `sock_info` entry exists
//! before the socket can be found in the SOCKHASH, so a peer that finds no
//! entry never redirects.
//!
//! Storing `ctx->sk` as a number needs CAP_PERFMON (the verifier's
//! allow_ptr_leaks); with [`Policy::PeerBlind`] the address is left 0.
//!
//! Leaving, both ends. A socket that sends over TCP for good and never
//! received a redirect leaves first (the RECEIVED/LEAVING fetch-or decides
//! races with a peer's first redirect). Its peer, which did receive, may
//! leave once two things hold, checked on this socket's later ACKs:
//! 1. this socket's `sk_user_data` is 0: the kernel drops a psock (and
//!    clears the pointer) only when its refcount reaches 0, and every
//!    `tcp_bpf_sendmsg` holds a reference for its whole run, the redirect
//!    included; a new `sendmsg` finds no psock and takes plain TCP. So no
//!    redirect into the peer is in flight, and none can start: this socket
//!    was the only one whose writes could reach it.
//! 2. the peer's redirect queue is empty (`ingress_msg` points at itself and
//!    `msg_tot_len` is 0), read through the peer's psock, whose pointer is
//!    read again after (unchanged) along with the peer's cookie (identity).
//!    `sk_msg_recvmsg` unlinks a message only once it is copied in full, so
//!    an empty list means the reader has all of it; by (1) nothing is added.
//!
//! Then deleting the peer frees nothing (`sk_psock_drop` purges only what
//! is queued), and its later writes and reads take plain TCP.
//!
//! Why leave: a socket in the SOCKHASH takes the sockmap path on every
//! write (copy into an sk_msg, run sk_msg, hand the bytes to TCP), which
//! costs a stream of small writes about a third of its speed. A socket that
//! sends over TCP for good gains nothing from staying, but the kernel frees
//! the redirected bytes still queued for a socket when it leaves the map; so
//! only a socket no peer ever redirected into may leave (see
//! [`super::FLAG_RECEIVED`]).

use super::counters::Counter;
use super::key::*;
use super::{
    Builder, FLAG_LEAVING, FLAG_RECEIVED, INFO_OFF_ADDR, INFO_OFF_CONFIRM, INFO_OFF_COOKIE, INFO_OFF_FLAGS,
    INFO_OFF_NETNS, LEAVE_DONE, LEAVE_PEER_PENDING, MAP_SOCK_INFO, MAP_SOCKHASH, Policy, STACK_INFO,
    STACK_LEAVE_COOKIE, STACK_LEAVE_NEXT, STACK_LEAVE_PSOCK, STACK_LEAVE_TOT, STACK_SCRATCH, STATE_IN_MAP,
    STATE_OFF_KEY, STATE_OFF_LEAVE, STATE_OFF_MODE, STATE_OFF_RTT_THEIRS, STATE_OFF_SELF, STATE_TCP_USED,
};
use crate::asm::{
    Alu, AsmError, AtomicOp, Endian, Insn, Jmp, R0, R1, R2, R3, R4, R6, R7, R8, R9, R10, Size, atomic, exit, ja,
    ld_map, load, store, store_imm,
};
use crate::spec::ProgramSpec;
use crate::uapi;
use crate::uapi::{AttachType, Helper, ProgType};

/// bpf_sock_ops field offsets: the table in [`crate::uapi::ctx`], checked
/// against the C header.
pub mod ctx {
    pub use crate::uapi::ctx::bpf_sock_ops::*;
}

/// The sock_ops callbacks and flags the program handles, as immediates.
const ACTIVE_ESTABLISHED: i32 = uapi::BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB as i32;
const PASSIVE_ESTABLISHED: i32 = uapi::BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB as i32;
const STATE_CB: i32 = uapi::BPF_SOCK_OPS_STATE_CB as i32;
const RTT_CB: i32 = uapi::BPF_SOCK_OPS_RTT_CB as i32;
const STATE_CB_FLAG: i32 = uapi::BPF_SOCK_OPS_STATE_CB_FLAG as i32;
const RTT_CB_FLAG: i32 = uapi::BPF_SOCK_OPS_RTT_CB_FLAG as i32;
const TCP_CLOSE: i32 = uapi::BPF_TCP_CLOSE as i32;

pub const NAME: &str = "sockasm_sockops";
/// Its pin's file name in the pin directory.
pub const PIN: &str = "sockops";

/// `bpf_sock_ops.sk`, for [`Builder::sk_state_get`].
const SK: (i16, &str) = (ctx::SK, "bpf_sock_ops.sk");

pub fn program(policy: &Policy) -> Result<ProgramSpec, AsmError> {
    let mut b = Builder::new();
    let k = STACK_KEY;
    b.push(Alu::Mov.reg(R6, R1));
    b.ctx_load(Size::W, R9, R6, ctx::OP, "bpf_sock_ops.op");
    b.push(Jmp::Jeq.imm(R9, ACTIVE_ESTABLISHED, "active"));
    b.push(Jmp::Jeq.imm(R9, PASSIVE_ESTABLISHED, "passive"));
    b.push(Jmp::Jeq.imm(R9, RTT_CB, "rtt"));
    b.push(Jmp::Jne.imm(R9, STATE_CB, "out"));
    b.ctx_load(Size::W, R2, R6, ctx::ARGS1, "bpf_sock_ops.args[1]");
    b.push(Jmp::Jeq.imm(R2, TCP_CLOSE, "closed"));
    b.push(ja("out"));

    // The key: the connection's two initial sequence numbers (+1), the
    // active end's first, and this socket's role. The active end reads its
    // own ISN as snd_una - bytes_acked + 1: with TCP Fast Open, snd_nxt has
    // already moved past the SYN's data.
    b.label("active");
    b.ctx_load(Size::W, R1, R6, ctx::SND_UNA, "bpf_sock_ops.snd_una");
    b.ctx_load(Size::DW, R2, R6, ctx::BYTES_ACKED, "bpf_sock_ops.bytes_acked");
    b.push(Alu::Sub.reg(R1, R2));
    b.push(Alu::Add.imm(R1, 1));
    b.push(store(Size::W, R10, k + OFF_ACTIVE_ISN, R1));
    b.ctx_load(Size::W, R1, R6, ctx::RCV_NXT, "bpf_sock_ops.rcv_nxt");
    b.push(store(Size::W, R10, k + OFF_PASSIVE_ISN, R1));
    b.push(store_imm(Size::W, R10, k + OFF_ROLE, ROLE_ACTIVE));
    b.push(ja("keyed"));
    b.label("passive");
    b.ctx_load(Size::W, R1, R6, ctx::RCV_NXT, "bpf_sock_ops.rcv_nxt");
    b.push(store(Size::W, R10, k + OFF_ACTIVE_ISN, R1));
    b.ctx_load(Size::W, R1, R6, ctx::SND_NXT, "bpf_sock_ops.snd_nxt");
    b.push(store(Size::W, R10, k + OFF_PASSIVE_ISN, R1));
    b.push(store_imm(Size::W, R10, k + OFF_ROLE, ROLE_PASSIVE));
    b.label("keyed");
    b.push(store_imm(Size::W, R10, k + OFF_ZERO, 0));

    // Port selection: a connection with a local or remote port marked
    // EXCLUDE is left alone, and so is one without an INCLUDE port when
    // only listed ports are admitted. The `ports` map's keys are u32s in
    // host byte order.
    b.admit_ports((R8, STACK_SCRATCH), ["local_port", "remote_port"], ("skipped", "admitted"), |b, i| {
        let (field, name) = [(ctx::LOCAL_PORT, "local_port"), (ctx::REMOTE_PORT, "remote_port")][i];
        b.ctx_load(Size::W, R1, R6, field, &format!("bpf_sock_ops.{name}"));
        if field == ctx::REMOTE_PORT {
            // The remote port sits in network byte order: be32 makes it a number.
            b.push(Insn::Endian { op: Endian::Be, bits: 32, dst: R1 });
        }
    });
    b.label("skipped");
    b.count(&[(Counter::SocketsSkipped, None)]);
    b.push(ja("out"));
    b.label("admitted");

    // Mark the socket as allowed to redirect, before it can be looked up.
    b.sk_state_get(R6, SK, uapi::BPF_SK_STORAGE_GET_F_CREATE as i32, "failed");
    b.push(Alu::Mov.reg(R7, R0));
    // A cgroup and its ancestor can both run this program for one socket.
    b.push(load(Size::DW, R1, R7, STATE_OFF_MODE));
    b.push(Jmp::Jne.imm(R1, 0, "out"));
    b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_IN_MAP));
    for half in [0, 8] {
        b.push(load(Size::DW, R1, R10, k + half));
        b.push(store(Size::DW, R7, STATE_OFF_KEY + half, R1));
    }

    // Its sock_info entry (nothing received, not leaving; where the socket
    // is, its cookie and its namespace's), before the socket can be found.
    // BPF_NOEXIST: a key already taken (another connection drew the same
    // sequence numbers) must not be overwritten; this one stays on TCP.
    b.push(store_imm(Size::DW, R10, STACK_INFO + INFO_OFF_FLAGS, 0));
    b.push(store_imm(Size::DW, R10, STACK_INFO + INFO_OFF_ADDR, 0));
    b.push(store_imm(Size::DW, R10, STACK_INFO + INFO_OFF_CONFIRM, 0));
    if let Some(o) = policy.offsets() {
        b.ctx_load(Size::DW, R1, R6, ctx::SK, SK.1);
        b.push(Jmp::Jeq.imm(R1, 0, "failed"));
        b.push(store(Size::DW, R7, STATE_OFF_SELF, R1));
        b.push(store(Size::DW, R10, STACK_INFO + INFO_OFF_ADDR, R1));
        // A socket in TCP_REPAIR mode had its sequence numbers chosen by
        // user space: its key could be another connection's. It never joins.
        // Through the copy in the map value: a number there, where the
        // verifier refuses arithmetic on the socket pointer itself.
        b.push(load(Size::DW, R3, R7, STATE_OFF_SELF));
        b.note(Alu::Add.imm(R3, o.repair.byte as i32), format!("&self->{} (byte)", o.repair.name));
        b.push(Alu::Mov.reg(R1, R10));
        b.push(Alu::Add.imm(R1, STACK_SCRATCH as i32));
        b.push(Alu::Mov.imm(R2, 1));
        b.call(Helper::ProbeReadKernel);
        b.push(Jmp::Jne.imm(R0, 0, "repaired"));
        b.push(load(Size::B, R1, R10, STACK_SCRATCH));
        b.push(Jmp::Jset.imm(R1, o.repair.mask as i32, "repaired"));
    }
    b.push(Alu::Mov.reg(R1, R6));
    b.call(Helper::GetSocketCookie);
    b.push(store(Size::DW, R10, STACK_INFO + INFO_OFF_COOKIE, R0));
    b.push(Alu::Mov.reg(R1, R6));
    b.call(Helper::GetNetnsCookie);
    b.push(store(Size::DW, R10, STACK_INFO + INFO_OFF_NETNS, R0));
    b.note(ld_map(R1, MAP_SOCK_INFO), format!("map {MAP_SOCK_INFO}"));
    b.push(Alu::Mov.reg(R2, R10));
    b.push(Alu::Add.imm(R2, k as i32));
    b.push(Alu::Mov.reg(R3, R10));
    b.push(Alu::Add.imm(R3, STACK_INFO as i32));
    b.push(Alu::Mov.imm(R4, uapi::BPF_NOEXIST as i32));
    b.call(Helper::MapUpdateElem);
    b.push(Jmp::Jne.imm(R0, 0, "failed"));

    b.push(Alu::Mov.reg(R1, R6));
    b.note(ld_map(R2, MAP_SOCKHASH), format!("map {MAP_SOCKHASH}"));
    b.push(Alu::Mov.reg(R3, R10));
    b.push(Alu::Add.imm(R3, k as i32));
    b.push(Alu::Mov.imm(R4, uapi::BPF_NOEXIST as i32));
    b.call(Helper::SockHashUpdate);
    b.push(Jmp::Jne.imm(R0, 0, "unflag"));
    // From now on: an RTT callback on every ACK (only a socket that sends
    // over TCP gets ACKs) and a state callback to drop the flags at close.
    // The helper sets all the flags at once: keep other programs' flags, and
    // remember whether one of them already wanted RTT callbacks.
    b.ctx_load(Size::W, R2, R6, ctx::CB_FLAGS, "bpf_sock_ops.bpf_sock_ops_cb_flags");
    b.push(Alu::Mov.reg(R1, R2));
    b.push(Alu::And.imm(R1, RTT_CB_FLAG));
    b.push(store(Size::DW, R7, STATE_OFF_RTT_THEIRS, R1));
    b.push(Alu::Or.imm(R2, RTT_CB_FLAG | STATE_CB_FLAG));
    b.push(Alu::Mov.reg(R1, R6));
    b.call(Helper::SockOpsCbFlagsSet);
    b.count(&[(Counter::SocketsAdded, None)]);
    b.push(ja("out"));
    b.label("unflag");
    b.call_with_key(MAP_SOCK_INFO, Helper::MapDeleteElem);
    // Map full or key taken: the connection simply stays on normal TCP.
    b.label("failed");
    b.count(&[(Counter::InsertFailures, None)]);
    b.push(ja("out"));
    if policy.offsets().is_some() {
        b.label("repaired");
        b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_TCP_USED));
        b.count(&[(Counter::SocketsRepairRefused, None)]);
        b.push(ja("out"));
    }

    // An ACK of bytes this socket sent over TCP. Once sk_msg has put it on
    // TCP for good, take it out of the SOCKHASH, unless a peer has
    // redirected into it. Peer-aware, it then takes its peer out too, as
    // soon as that is safe (see "Leaving" above), retrying on later ACKs.
    b.label("rtt");
    b.sk_state_get(R6, SK, 0, "out");
    b.push(Alu::Mov.reg(R7, R0));
    b.push(load(Size::DW, R1, R7, STATE_OFF_MODE));
    b.push(Jmp::Jne.imm(R1, STATE_TCP_USED, "out"));
    if policy.offsets().is_some() {
        b.push(load(Size::DW, R1, R7, STATE_OFF_LEAVE));
        b.push(Jmp::Jeq.imm(R1, LEAVE_PEER_PENDING, "peer_leave"));
    }
    b.key_from_state(R7, false);
    b.call_with_key(MAP_SOCK_INFO, Helper::MapLookupElem);
    b.push(Jmp::Jeq.imm(R0, 0, "decided"));
    b.push(load(Size::DW, R1, R0, 0));
    b.push(Jmp::Jset.imm(R1, FLAG_RECEIVED, "decided"));
    // Announce the leave and learn, in the same atomic step, whether a peer
    // got in first.
    b.push(Alu::Mov.imm(R1, FLAG_LEAVING));
    b.push(atomic(Size::DW, AtomicOp::FetchOr, R0, 0, R1));
    b.push(Jmp::Jset.imm(R1, FLAG_RECEIVED, "decided"));
    b.call_with_key(MAP_SOCKHASH, Helper::MapDeleteElem);
    b.call_with_key(MAP_SOCK_INFO, Helper::MapDeleteElem);
    b.count(&[(Counter::SocketsLeft, None)]);
    if let Some(o) = policy.offsets() {
        b.push(store_imm(Size::DW, R7, STATE_OFF_LEAVE, LEAVE_PEER_PENDING));

        // The peer may leave once our psock is gone (no sendmsg of ours is
        // left that could still redirect into it) and its redirect queue is
        // empty (nothing the kernel would free). Until then: the next ACK.
        b.label("peer_leave");
        b.peer_read(STACK_SCRATCH, &o.user_data, (R7, STATE_OFF_SELF), "self");
        b.push(load(Size::DW, R1, R10, STACK_SCRATCH));
        b.push(Jmp::Jne.imm(R1, 0, "out"));
        b.key_from_state(R7, true);
        b.call_with_key(MAP_SOCK_INFO, Helper::MapLookupElem);
        b.push(Jmp::Jeq.imm(R0, 0, "leave_done"));
        b.push(Alu::Mov.reg(R9, R0));
        b.peer_read(STACK_LEAVE_PSOCK, &o.user_data, (R9, INFO_OFF_ADDR), "peer");
        b.push(load(Size::DW, R1, R10, STACK_LEAVE_PSOCK));
        b.push(Alu::And.imm(R1, -8));
        b.push(Jmp::Jeq.imm(R1, 0, "leave_done"));
        b.push(store(Size::DW, R10, STACK_LEAVE_PSOCK, R1));
        b.peer_read(STACK_LEAVE_NEXT, &o.psock_ingress, (R10, STACK_LEAVE_PSOCK), "psock");
        b.peer_read(STACK_LEAVE_TOT, &o.psock_tot_len, (R10, STACK_LEAVE_PSOCK), "psock");
        // Read again: the psock was still the peer's after the reads above.
        b.peer_read(STACK_SCRATCH, &o.user_data, (R9, INFO_OFF_ADDR), "peer");
        b.peer_read(STACK_LEAVE_COOKIE, &o.cookie, (R9, INFO_OFF_ADDR), "peer");
        b.push(load(Size::DW, R1, R10, STACK_LEAVE_COOKIE));
        b.push(load(Size::DW, R2, R9, INFO_OFF_COOKIE));
        b.push(Jmp::Jne.reg(R1, R2, "leave_done"));
        b.push(load(Size::DW, R1, R10, STACK_SCRATCH));
        b.push(Alu::And.imm(R1, -8));
        b.push(load(Size::DW, R2, R10, STACK_LEAVE_PSOCK));
        b.push(Jmp::Jne.reg(R1, R2, "out"));
        // Empty: the list head points at itself, and nothing is counted.
        b.push(Alu::Add.imm(R2, o.psock_ingress.offset as i32));
        b.push(load(Size::DW, R1, R10, STACK_LEAVE_NEXT));
        b.push(Jmp::Jne.reg(R1, R2, "out"));
        b.push(load(Size::W, R1, R10, STACK_LEAVE_TOT));
        b.push(Jmp::Jne.imm(R1, 0, "out"));
        b.call_with_key(MAP_SOCKHASH, Helper::MapDeleteElem);
        b.call_with_key(MAP_SOCK_INFO, Helper::MapDeleteElem);
        b.count(&[(Counter::SocketsLeft, None)]);
        b.label("leave_done");
        b.push(store_imm(Size::DW, R7, STATE_OFF_LEAVE, LEAVE_DONE));
    }
    b.label("decided");
    b.push(load(Size::DW, R1, R7, STATE_OFF_RTT_THEIRS));
    b.push(Jmp::Jne.imm(R1, 0, "out"));
    b.ctx_load(Size::W, R2, R6, ctx::CB_FLAGS, "bpf_sock_ops.bpf_sock_ops_cb_flags");
    b.push(Alu::And.imm(R2, !RTT_CB_FLAG));
    b.push(Alu::Mov.reg(R1, R6));
    b.call(Helper::SockOpsCbFlagsSet);
    b.push(ja("out"));

    // The socket is gone: so is its sock_info entry, if it is its own.
    b.label("closed");
    b.sk_state_get(R6, SK, 0, "out");
    b.key_from_state(R0, false);
    b.call_with_key(MAP_SOCK_INFO, Helper::MapLookupElem);
    b.push(Jmp::Jeq.imm(R0, 0, "out"));
    b.push(Alu::Mov.reg(R8, R0));
    b.push(Alu::Mov.reg(R1, R6));
    b.call(Helper::GetSocketCookie);
    b.push(load(Size::DW, R1, R8, INFO_OFF_COOKIE));
    b.push(Jmp::Jne.reg(R0, R1, "out"));
    b.call_with_key(MAP_SOCK_INFO, Helper::MapDeleteElem);
    b.label("out");
    b.push(Alu::Mov.imm(R0, 1));
    b.push(exit());
    b.finish(NAME, PIN, ProgType::SOCK_OPS, AttachType::CGROUP_SOCK_OPS)
}
