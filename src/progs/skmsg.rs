//! sk_msg: redirect each write of a socket in the SOCKHASH into its peer,
//! unless the peer's receive queue says it should go over TCP.
//!
//! ```text
//! st = sk_storage_get(&sk_state, msg->sk, 0, 0);
//! if (!st) goto no_peer;
//! if (st->mode == TCP_USED) goto for_good;
//! key = { netns_cookie(msg), remote ip, local ip, remote port, local port };  // the peer's key
//! info = map_lookup(&sock_info, &key);              // the peer's address and cookie
//! if (!info) goto miss;
//! q = peer->sk_rmem_alloc; rcvbuf = peer->sk_rcvbuf;           // bpf_probe_read_kernel
//! if (st->mode == SPILLED) { copied = peer->copied_seq; written = self->write_seq; }
//! if (peer->sk_cookie != info->cookie) goto stale;  // read last: the reads above came from the peer
//! bound = min(max(rcvbuf, config.rcvbuf_floor), config.max_queue);
//! if (st->mode == SPILLED) {                        // rejoin only when TCP has nothing in flight
//!     if (copied != written) goto behind;           // the peer has not read all our TCP bytes
//!     if (q >= bound / 2) goto queue_full;
//!     st->mode = REDIRECT; rejoins++; goto redirect;
//! }
//! if (q >= bound) { st->mode = SPILLED; spills++; goto queue_full; }
//! if (size < SMALL_WRITE && q > 0) {                // a small write, and the peer has not read the last one
//!     if (++st->run > SMALL_RUN) goto stream;       // a stream: TCP coalesces it better
//! } else st->run = 0;
//! redirect:
//! if (!st->peer_flagged) {                          // first redirect: the peer may never leave the map now
//!     if (fetch_or(&info->flags, RECEIVED) & LEAVING) goto miss;
//!     st->peer_flagged = 1;
//! }
//! if (msg_redirect_hash(msg, &sock_hash, &key, BPF_F_INGRESS) == SK_PASS) { redirected++; return SK_PASS; }
//! miss: st->mode = TCP_USED;            // sock_ops takes the socket out of the map if it can
//! ...   passed++, and why; return SK_PASS;  // never SK_DROP: the write goes over TCP
//! ```
//! Ordering. The reader takes redirected bytes before TCP's (tcp_bpf_recvmsg
//! reads TCP only while the redirect queue is empty), so going from the
//! redirect to TCP is always safe. The other way, a redirected write could
//! overtake TCP bytes still in flight or unread; so a spilled socket rejoins
//! only when the peer's `copied_seq` (next TCP byte it will read) equals this
//! socket's `write_seq` (after the last byte it wrote over TCP): every TCP
//! byte has been read. Both only move forward, and this socket's `write_seq`
//! cannot move while sk_msg runs (the socket is locked).
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
use super::*;
use crate::uapi;

/// sk_msg_md field offsets: the table in [`crate::uapi::ctx`], checked
/// against the C header.
pub mod ctx {
    pub use crate::uapi::ctx::sk_msg_md::*;
    pub const ADDRS: super::CtxAddrs = super::CtxAddrs {
        name: NAME,
        family: FAMILY,
        remote_ip4: REMOTE_IP4,
        local_ip4: LOCAL_IP4,
        remote_ip6: REMOTE_IP6,
        local_ip6: LOCAL_IP6,
        remote_port: REMOTE_PORT,
        local_port: LOCAL_PORT,
    };
}

/// The verdict: every write passes (redirected or over TCP), none is dropped.
const SK_PASS: i32 = uapi::SK_PASS as i32;

pub const NAME: &str = "sockasm_skmsg";

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

    // The peer's key: our remote is its local, and the other way round.
    b.build_key(R6, &ctx::ADDRS, true, "no_peer");
    b.call_with_key(MAP_SOCK_INFO, Helper::MapLookupElem);
    b.push(Jmp::Jeq.imm(R0, 0, "miss"));
    b.push(Alu::Mov.reg(R9, R0));

    if let Some(o) = policy.offsets() {
        b.peer_read(STACK_PEER_RMEM, &o.rmem_alloc, (R9, INFO_OFF_ADDR), "peer");
        b.peer_read(STACK_PEER_RCVBUF, &o.rcvbuf, (R9, INFO_OFF_ADDR), "peer");
        b.push(load(Size::DW, R1, R7, STATE_OFF_MODE));
        b.push(Jmp::Jne.imm(R1, STATE_SPILLED, "identity"));
        b.peer_read(STACK_PEER_COPIED, &o.copied_seq, (R9, INFO_OFF_ADDR), "peer");
        b.peer_read(STACK_SELF_WRITE, &o.write_seq, (R7, STATE_OFF_SELF), "self");
        // Last: if the cookie is still the peer's, so were the reads above.
        b.label("identity");
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
        b.push(load(Size::DW, R1, R7, STATE_OFF_MODE));
        b.push(Jmp::Jne.imm(R1, STATE_SPILLED, "check_full"));

        // Spilled: back to the redirect only once the peer has read every
        // byte sent over TCP, and its queue has room again.
        b.push(load(Size::W, R1, R10, STACK_PEER_COPIED));
        b.push(load(Size::W, R4, R10, STACK_SELF_WRITE));
        b.push(Jmp::Jne.reg32(R1, R4, "behind"));
        b.push(Alu::Rsh.imm(R2, 1));
        b.push(Jmp::Jge.reg(R3, R2, "queue_full"));
        b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_IN_MAP));
        b.push(store_imm(Size::DW, R7, STATE_OFF_RUN, 0));
        b.count(&[(Counter::Rejoins, None)]);
        b.push(ja("redirect"));

        b.label("check_full");
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
        b.label("spill");
        b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_SPILLED));
        b.count(&[(Counter::Spills, None)]);
        b.label("queue_full");
        passed(&mut b, Counter::PassQueueFull);
        b.label("behind");
        passed(&mut b, Counter::PassPeerBehind);
        // Not the peer any more: TCP now, and the redirect only after a rejoin
        // check with reads that pass the identity test.
        b.label("stale");
        b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_SPILLED));
        passed(&mut b, Counter::PassPeerStale);
        b.label("stream");
        b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_TCP_USED));
        b.count(&[(Counter::SmallWriteStreams, None)]);
        passed(&mut b, Counter::PassStream);
    }
    b.label("for_good");
    passed(&mut b, Counter::PassForGood);
    b.label("miss");
    b.push(store_imm(Size::DW, R7, STATE_OFF_MODE, STATE_TCP_USED));
    b.label("no_peer");
    b.count(&[(Counter::PassNoPeer, None), (Counter::PassedMsgs, None), (Counter::PassedBytes, Some(R8))]);
    b.label("out");
    b.push(Alu::Mov.imm(R0, SK_PASS));
    b.push(exit());
    b.finish(NAME, ProgType::SK_MSG, AttachType::SK_MSG_VERDICT)
}
