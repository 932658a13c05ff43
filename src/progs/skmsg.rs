//! sk_msg: redirect each write of a socket in the SOCKHASH into its peer.
//!
//! ```text
//! st = sk_storage_get(&sk_state, msg->sk, 0, 0);
//! if (!st || *st == TCP_USED) goto pass;
//! key = { netns_cookie(msg), remote ip, local ip, remote port, local port };  // the peer's key
//! if (!st->peer_flagged) {               // first redirect: the peer may never leave the map now
//!     f = map_lookup(&sock_flags, &key);
//!     if (!f || fetch_or(f, RECEIVED) & LEAVING) goto miss;
//!     st->peer_flagged = 1;
//! }
//! if (msg_redirect_hash(msg, &sock_hash, &key, BPF_F_INGRESS) == SK_PASS) { redirected++; return SK_PASS; }
//! miss: *st = TCP_USED;                // sock_ops takes the socket out of the map if it can
//! pass: passed++; return SK_PASS;      // never SK_DROP: the write goes over TCP
//! ```
//! Before the redirect, a run of small back-to-back writes is counted (see [`SMALL_RUN`]):
//! ```text
//! gap = now - st->last_ns; st->last_ns = now;
//! st->run = (size < SMALL_WRITE && gap <= SMALL_GAP_NS) ? st->run + 1 : 0;
//! if (st->run > SMALL_RUN) { fallbacks++; *st = TCP_USED; goto pass; }
//! ```
//! Ordering: once a connection sent a byte over TCP (the peer was not in the
//! map yet, or never will be), it must never switch to the redirect: TCP bytes
//! may still be in flight when a redirected write lands in the peer's queue,
//! and the reader would see them out of order. The per-socket `sk_state`
//! remembers that decision in the kernel. The other switch, redirect to TCP,
//! is safe: redirected bytes are already queued ahead of anything TCP brings.

use super::counters::Counter;
use super::key::*;
use super::*;

/// sk_msg_md field offsets (include/uapi/linux/bpf.h).
pub mod ctx {
    pub const FAMILY: i16 = 16;
    pub const REMOTE_IP4: i16 = 20;
    pub const LOCAL_IP4: i16 = 24;
    pub const REMOTE_IP6: i16 = 28;
    pub const LOCAL_IP6: i16 = 44;
    /// Network byte order, as a u32 (so `be32` gives the port).
    pub const REMOTE_PORT: i16 = 60;
    /// Host byte order.
    pub const LOCAL_PORT: i16 = 64;
    pub const SIZE: i16 = 68;
    pub const SK: i16 = 72;
    pub const ADDRS: super::CtxAddrs = super::CtxAddrs {
        name: "sk_msg_md",
        family: FAMILY,
        remote_ip4: REMOTE_IP4,
        local_ip4: LOCAL_IP4,
        remote_ip6: REMOTE_IP6,
        local_ip6: LOCAL_IP6,
        remote_port: REMOTE_PORT,
        local_port: LOCAL_PORT,
    };
}

pub const NAME: &str = "sockasm_skmsg";

/// Writes smaller than this can make a run of small writes.
pub const SMALL_WRITE: i32 = 32 * 1024;
/// ... when each follows the previous write within this many nanoseconds
/// (a round trip through the bypass takes about 20 µs on the test machine).
pub const SMALL_GAP_NS: i32 = 10_000;
/// A socket with more small writes than this in a row moves to TCP.
pub const SMALL_RUN: i32 = 16;

pub fn program() -> Result<Builtin, AsmError> {
    let mut b = Builder::new();
    let k = STACK_KEY;
    b.push(Alu::Mov.reg(R6, R1));
    b.ctx_load(Size::W, R8, R6, ctx::SIZE, "sk_msg_md.size");
    b.sk_state_get(R6, (ctx::SK, "sk_msg_md.sk"), 0, "pass");
    b.push(Alu::Mov.reg(R7, R0));
    b.push(load(Size::DW, R1, R7, STATE_OFF_FLAGS));
    b.push(Jmp::Jeq.imm(R1, STATE_TCP_USED, "pass"));

    // The peer's key: our remote is its local, and the other way round.
    b.build_key(R6, &ctx::ADDRS, true, "pass");

    // A stream of small writes is faster over TCP, which coalesces them,
    // than redirected (one queued message and one reader wake-up per write).
    // Count small writes that follow the previous write within SMALL_GAP_NS;
    // more than SMALL_RUN in a row and the connection moves to TCP (always
    // safe in this direction). Request/response traffic keeps the redirect:
    // a peer's answer lies between two of its writes.
    b.push(call(helper::KTIME_GET_NS));
    b.push(load(Size::DW, R1, R7, STATE_OFF_LAST_NS));
    b.push(store(Size::DW, R7, STATE_OFF_LAST_NS, R0));
    b.push(Alu::Sub.reg(R0, R1));
    b.push(Jmp::Jge.imm(R8, SMALL_WRITE, "run_over"));
    b.push(Jmp::Jgt.imm(R0, SMALL_GAP_NS, "run_over"));
    b.push(load(Size::DW, R1, R7, STATE_OFF_RUN));
    b.push(Alu::Add.imm(R1, 1));
    b.push(store(Size::DW, R7, STATE_OFF_RUN, R1));
    b.push(Jmp::Jgt.imm(R1, SMALL_RUN, "to_tcp"));
    b.push(ja("redirect"));
    b.label("run_over");
    b.push(store_imm(Size::DW, R7, STATE_OFF_RUN, 0));

    // Before the first redirect into the peer, set its RECEIVED flag, so it
    // can never leave the SOCKHASH with our bytes queued (see sock_ops). A
    // peer that is leaving, or has no flags word, gets our bytes over TCP.
    b.label("redirect");
    b.push(load(Size::DW, R1, R7, STATE_OFF_PEER_FLAGGED));
    b.push(Jmp::Jne.imm(R1, 0, "send"));
    b.call_with_key(MAP_SOCK_FLAGS, helper::MAP_LOOKUP_ELEM);
    b.push(Jmp::Jeq.imm(R0, 0, "miss"));
    b.push(Alu::Mov.imm(R1, FLAG_RECEIVED));
    b.push(atomic(Size::DW, AtomicOp::FetchOr, R0, 0, R1));
    b.push(Jmp::Jset.imm(R1, FLAG_LEAVING, "miss"));
    b.push(store_imm(Size::DW, R7, STATE_OFF_PEER_FLAGGED, 1));
    b.label("send");
    b.push(Alu::Mov.reg(R1, R6));
    b.note(ld_map(R2, MAP_SOCKHASH), format!("map {MAP_SOCKHASH}"));
    b.push(Alu::Mov.reg(R3, R10));
    b.push(Alu::Add.imm(R3, k as i32));
    b.push(Alu::Mov.imm(R4, BPF_F_INGRESS));
    b.push(call(helper::MSG_REDIRECT_HASH));
    b.push(Jmp::Jne.imm(R0, SK_PASS, "miss"));
    b.count(Counter::RedirectedMsgs, Some((Counter::RedirectedBytes, R8)));
    b.push(ja("out"));
    b.label("to_tcp");
    b.count(Counter::SmallWriteFallbacks, None);
    b.label("miss");
    b.push(store_imm(Size::DW, R7, STATE_OFF_FLAGS, STATE_TCP_USED));
    b.label("pass");
    b.count(Counter::PassedMsgs, Some((Counter::PassedBytes, R8)));
    b.label("out");
    b.push(Alu::Mov.imm(R0, SK_PASS));
    b.push(exit());
    b.finish(NAME, crate::syscall::ProgType::SK_MSG, crate::syscall::AttachType::SK_MSG_VERDICT)
}
