//! sk_msg: redirect each write of a socket in the SOCKHASH into its peer,
//! unless the peer's receive queue says it should go over TCP.
//!
//! ```text
//! st = sk_storage_get(&sk_state, msg->sk, 0, 0);
//! if (!st) goto no_peer;
//! if (st->mode == TCP_USED) goto for_good;
//! key = st->key; key.role = 3 - key.role;           // the peer's key: ours, the other role
//! info = map_lookup(&sock_info, &key);              // the peer's address and cookies
//! if (!info) goto miss;
//! if (info->confirm && !(info->confirm & CONFIRMED && self->write_seq == info->confirm >> 32))
//!     { unconfirmed++; passed++; return SK_PASS; }   // an adopted peer (see `adopt`); no mode change
//! if ((config.pair_flags & SAME_NETNS) && get_netns_cookie(msg) != info->netns) goto other_netns;
//! q = peer->sk_rmem_alloc; rcvbuf = peer->sk_rcvbuf;           // bpf_probe_read_kernel
//! if (peer->sk_cookie != info->cookie) goto stale;  // read last: the reads above came from the peer
//! bound = min(max(rcvbuf, config.rcvbuf_floor), config.max_queue);
//! if (q >= bound) { st->mode = TCP_USED; spills++; goto queue_full; }   // for good
//! if (size < SMALL_WRITE && q > 0) {                // a small write, and the peer has not read the last one
//!     if (++st->run > SMALL_RUN) goto stream;       // a stream: TCP coalesces it better (for good)
//! } else st->run = 0;
//! redirect:
//! if (!st->peer_flagged) {                          // first redirect: the peer may never leave the map now
//!     if (fetch_or(&info->flags, RECEIVED) & LEAVING) goto miss;
//!     st->peer_flagged = 1;
//! }
//! if (msg_redirect_hash(msg, &sock_hash, &key, BPF_F_INGRESS) == SK_PASS) { redirected++; return SK_PASS; }
//! other_netns: st->mode = TCP_USED;     // (counted as such)
//! miss: if (st->mode != ADOPTED) st->mode = TCP_USED;  // sock_ops takes the socket out of the map if it can
//! ...   passed++, and why; return SK_PASS;  // never SK_DROP: the write goes over TCP
//! ```
//! Ordering. Every write that goes over TCP sets `TCP_USED` (or finds no
//! storage, which never changes), and a socket in `TCP_USED` never redirects
//! again. So each direction of a connection is a run of redirected writes
//! R1..Rn followed by a run of TCP writes T1..Tm, never the other way. That
//! no Ti reaches the reader before every Rj, whatever the reader does
//! (net/ipv4/tcp_bpf.c and net/core/skmsg.c, Linux 6.18):
//!
//! 1. The redirect is synchronous: `tcp_bpf_sendmsg` → `bpf_tcp_ingress`
//!    puts Rn on the peer's `psock->ingress_msg` before the writer's
//!    `sendmsg` returns, so before T1 exists. Whenever a T byte is in the
//!    reader's `sk_receive_queue`, every R is in `ingress_msg` or already read.
//! 2. `tcp_bpf_recvmsg` enters `tcp_recvmsg` only when `ingress_msg` is
//!    empty: directly (TCP queue non-empty and `sk_psock_queue_empty`), or
//!    after `tcp_msg_wait_data` woke it with the psock queue still empty.
//!    `sk_msg_recvmsg` dequeues a message only once it is copied in full (and
//!    never with `MSG_PEEK`), so an empty queue means every R was read.
//! 3. A reader inside `tcp_recvmsg` (blocked with `MSG_WAITALL` or
//!    `SO_RCVLOWAT`, or another thread) therefore got there after the last R
//!    was read; nothing redirected can arrive after it, because the writer
//!    never redirects again. Concurrent readers are ordered by the socket lock.
//!
//! The old rule, which let a spilled connection rejoin the redirect once the
//! peer had read every TCP byte (`copied_seq == write_seq`), broke step 3: a
//! reader still waiting in `tcp_recvmsg` for more TCP bytes returned a later
//! TCP write before an earlier redirected one (reliability round 3, the
//! `MSG_WAITALL` repro). Nothing an sk_msg program can read proves that no
//! reader is inside `tcp_recvmsg`, so a spill is final.
//!
//! Identity. The peer's address comes from a map entry that sock_ops deletes
//! at close, but TCP sockets are `SLAB_TYPESAFE_BY_RCU`: the memory can be a
//! new socket by the time it is read. The kernel resets the cookie when it
//! reuses the memory, and cookies are never reused, so reading the expected
//! cookie after the other fields proves they were the peer's.
//!
//! With [`Policy::PeerBlind`] the peer reads and everything that depends on
//! them are left out: every write to a peer in the map is redirected.

use super::counters::Counter;
use super::key::*;
use super::{
    Builder, CONFIRM_CONFIRMED, FLAG_LEAVING, FLAG_RECEIVED, INFO_OFF_ADDR, INFO_OFF_CONFIRM, INFO_OFF_COOKIE,
    INFO_OFF_FLAGS, INFO_OFF_NETNS, MAP_CONFIG, MAP_SOCK_INFO, MAP_SOCKHASH, Policy, STACK_PEER_COOKIE,
    STACK_PEER_RCVBUF, STACK_PEER_RMEM, STACK_WRITE_SEQ, STATE_ADOPTED, STATE_OFF_MODE, STATE_OFF_PEER_FLAGGED,
    STATE_OFF_RUN, STATE_OFF_SELF, STATE_TCP_USED, config,
};
use crate::asm::{
    Alu, AsmError, AtomicOp, Jmp, R0, R1, R2, R3, R4, R6, R7, R8, R9, R10, Size, atomic, exit, ja, ld_map,
    ld_map_value, load, store, store_imm,
};
use crate::spec::ProgramSpec;
use crate::uapi;
use crate::uapi::{AttachType, Helper, ProgType};

/// sk_msg_md field offsets: the table in [`crate::uapi::ctx`], checked
/// against the C header.
pub mod ctx {
    pub use crate::uapi::ctx::sk_msg_md::*;
}

/// The verdict: every write passes (redirected or over TCP), none is dropped.
const SK_PASS: i32 = uapi::SK_PASS as i32;

pub const NAME: &str = "sockasm_skmsg";
/// Its pin's file name in the pin directory.
pub const PIN: &str = "skmsg";

/// Writes smaller than this, into a peer that has not read the previous
/// one, make a run of small writes.
pub const SMALL_WRITE: i32 = 32 * 1024;
/// A socket with more such writes than this in a row moves to TCP for good.
pub const SMALL_RUN: i32 = 16;

pub fn program(policy: &Policy) -> Result<ProgramSpec, AsmError> {
    let mut b = Builder::new();
    let k = STACK_KEY;
    let passed = |b: &mut Builder, why: Counter| {
        b.count(&[(why, None), (Counter::PassedMsgs, None), (Counter::PassedBytes, Some(R8))]);
        b.push(ja("out"));
    };
    b.push(Alu::Mov.reg(R6, R1));
    b.ctx_load(Size::W, R8, R6, ctx::SIZE, "sk_msg_md.size");
    b.sk_state_get(R6, (ctx::SK, "sk_msg_md.sk"), 0, "no_peer");
    b.push(Alu::Mov.reg(R7, R0));
    b.push(load(Size::DW, R1, R7, STATE_OFF_MODE));
    b.push(Jmp::Jeq.imm(R1, STATE_TCP_USED, "for_good"));

    // The peer's key: ours with the other role.
    b.key_from_state(R7, true);
    b.call_with_key(MAP_SOCK_INFO, Helper::MapLookupElem);
    b.push(Jmp::Jeq.imm(R0, 0, "miss"));
    b.push(Alu::Mov.reg(R9, R0));
    // Pairing limited to one network namespace (an operator's choice, or a
    // peer-blind load, which cannot check for TCP_REPAIR).
    b.note(ld_map_value(R1, MAP_CONFIG, 0), format!("map {MAP_CONFIG} value"));
    b.note(load(Size::DW, R1, R1, config::OFF_PAIR_FLAGS), "config.pair_flags");
    b.push(Jmp::Jset.imm(R1, config::PAIR_SAME_NETNS, "same_netns"));
    b.push(ja("paired"));
    b.label("same_netns");
    b.push(Alu::Mov.reg(R1, R6));
    b.call(Helper::GetNetnsCookie);
    b.note(load(Size::DW, R1, R9, INFO_OFF_NETNS), "sock_info.netns");
    b.push(Jmp::Jne.reg(R0, R1, "other_netns"));
    b.label("paired");

    // An adopted peer (connected before `load`) takes redirects only once
    // the adopt pass confirmed it, and only from a writer that has sent
    // nothing over TCP since: then no TCP byte of ours can still reach its
    // receive queue, and no reader of it is in plain tcp_recvmsg (see
    // [`super::adopt`]). Otherwise this write goes over TCP, and the
    // connection keeps its chance (a later pass confirms it again).
    b.note(load(Size::DW, R1, R9, INFO_OFF_CONFIRM), "sock_info.confirm");
    b.push(Jmp::Jeq.imm(R1, 0, "not_adopted"));
    b.push(Jmp::Jset.imm(R1, CONFIRM_CONFIRMED, "peer_confirmed"));
    b.push(ja("unconfirmed"));
    b.label("peer_confirmed");
    if let Some(o) = policy.offsets() {
        b.push(Alu::Rsh.imm(R1, 32));
        b.push(store(Size::DW, R10, STACK_PEER_COOKIE, R1));
        b.push(store_imm(Size::DW, R10, STACK_WRITE_SEQ, 0));
        b.peer_read(STACK_WRITE_SEQ, &o.write_seq, (R7, STATE_OFF_SELF), "self");
        b.push(load(Size::DW, R1, R10, STACK_WRITE_SEQ));
        b.push(load(Size::DW, R2, R10, STACK_PEER_COOKIE));
        b.push(Jmp::Jne.reg(R1, R2, "unconfirmed"));
        b.push(ja("not_adopted"));
    }
    b.label("unconfirmed");
    b.count(&[(Counter::PassPeerUnconfirmed, None), (Counter::PassedMsgs, None), (Counter::PassedBytes, Some(R8))]);
    b.push(ja("out"));
    b.label("not_adopted");

    if let Some(o) = policy.offsets() {
        b.peer_read(STACK_PEER_RMEM, &o.rmem_alloc, (R9, INFO_OFF_ADDR), "peer");
        b.peer_read(STACK_PEER_RCVBUF, &o.rcvbuf, (R9, INFO_OFF_ADDR), "peer");
        // Last: if the cookie is still the peer's, so were the reads above.
        b.peer_read(STACK_PEER_COOKIE, &o.cookie, (R9, INFO_OFF_ADDR), "peer");
        b.push(load(Size::DW, R1, R10, STACK_PEER_COOKIE));
        b.push(load(Size::DW, R2, R9, INFO_OFF_COOKIE));
        b.push(Jmp::Jne.reg(R1, R2, "stale"));

        // bound = min(max(peer's rcvbuf, rcvbuf_floor), max_queue): what
        // TCP would let wait for this reader (its buffer as autotuning grows
        // it, or a larger SO_RCVBUF), never more than the operator allows.
        b.push(load(Size::W, R2, R10, STACK_PEER_RCVBUF));
        b.note(ld_map_value(R4, MAP_CONFIG, 0), format!("map {MAP_CONFIG} value"));
        b.note(load(Size::DW, R1, R4, config::OFF_RCVBUF_FLOOR), "config.rcvbuf_floor");
        b.push(Jmp::Jge.reg(R2, R1, "floored"));
        b.push(Alu::Mov.reg(R2, R1));
        b.label("floored");
        b.note(load(Size::DW, R1, R4, config::OFF_MAX_QUEUE), "config.max_queue");
        b.push(Jmp::Jle.reg(R2, R1, "bounded"));
        b.push(Alu::Mov.reg(R2, R1));
        b.label("bounded");
        b.push(load(Size::W, R3, R10, STACK_PEER_RMEM));

        b.push(Jmp::Jge.reg(R3, R2, "spill"));
        // A stream of small writes is faster over TCP, which coalesces them,
        // than redirected (one queued message and one reader wake-up per
        // write). Its sign: the peer has not read the previous write yet.
        // Request/response never shows it, however fast the round trip.
        b.push(Jmp::Jge.imm(R8, SMALL_WRITE, "run_over"));
        b.push(Jmp::Jeq.imm(R3, 0, "run_over"));
        b.push(load(Size::DW, R1, R7, STATE_OFF_RUN));
        b.push(Alu::Add.imm(R1, 1));
        b.push(store(Size::DW, R7, STATE_OFF_RUN, R1));
        b.push(Jmp::Jgt.imm(R1, SMALL_RUN, "stream"));
        b.push(ja("redirect"));
        b.label("run_over");
        b.push(store_imm(Size::DW, R7, STATE_OFF_RUN, 0));
    }

    // Before the first redirect into the peer, set its RECEIVED flag, so it
    // can never leave the SOCKHASH with our bytes queued (see sock_ops). A
    // peer that is leaving gets our bytes over TCP.
    b.label("redirect");
    b.push(load(Size::DW, R1, R7, STATE_OFF_PEER_FLAGGED));
    b.push(Jmp::Jne.imm(R1, 0, "send"));
    b.push(Alu::Mov.imm(R1, FLAG_RECEIVED));
    b.note(atomic(Size::DW, AtomicOp::FetchOr, R9, INFO_OFF_FLAGS, R1), "sock_info.flags");
    b.push(Jmp::Jset.imm(R1, FLAG_LEAVING, "miss"));
    b.push(store_imm(Size::DW, R7, STATE_OFF_PEER_FLAGGED, 1));
    b.label("send");
    b.push(Alu::Mov.reg(R1, R6));
    b.note(ld_map(R2, MAP_SOCKHASH), format!("map {MAP_SOCKHASH}"));
    b.push(Alu::Mov.reg(R3, R10));
    b.push(Alu::Add.imm(R3, k as i32));
    b.push(Alu::Mov.imm(R4, uapi::BPF_F_INGRESS as i32));
    b.call(Helper::MsgRedirectHash);
    b.push(Jmp::Jne.imm(R0, SK_PASS, "miss"));
    b.count(&[(Counter::RedirectedMsgs, None), (Counter::RedirectedBytes, Some(R8))]);
    b.push(ja("out"));

    if policy.offsets().is_some() {
        // The peer's queue is full: this connection goes over TCP for good
        // (see "Ordering" above for why it never comes back).
        b.label("spill");
        b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_TCP_USED));
        b.count(&[(Counter::Spills, None)]);
        passed(&mut b, Counter::PassQueueFull);
        // Not the peer any more: TCP for good as well.
        b.label("stale");
        b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_TCP_USED));
        passed(&mut b, Counter::PassPeerStale);
        b.label("stream");
        b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_TCP_USED));
        b.count(&[(Counter::SmallWriteStreams, None)]);
        passed(&mut b, Counter::PassStream);
    }
    b.label("other_netns");
    b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_TCP_USED));
    passed(&mut b, Counter::PassOtherNetns);
    b.label("for_good");
    passed(&mut b, Counter::PassForGood);
    b.label("miss");
    // An adopted writer's peer may be adopted in a later pass: no finality.
    b.push(load(Size::DW, R1, R7, STATE_OFF_MODE));
    b.push(Jmp::Jeq.imm(R1, STATE_ADOPTED, "no_peer"));
    b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_TCP_USED));
    b.label("no_peer");
    b.count(&[(Counter::PassNoPeer, None), (Counter::PassedMsgs, None), (Counter::PassedBytes, Some(R8))]);
    b.label("out");
    b.push(Alu::Mov.imm(R0, SK_PASS));
    b.push(exit());
    b.finish(NAME, PIN, ProgType::SK_MSG, AttachType::SK_MSG_VERDICT)
}
