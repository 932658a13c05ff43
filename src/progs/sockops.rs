//! sock_ops: put every established TCP socket of the cgroup into the SOCKHASH.
//!
//! ```text
//! if (op != ACTIVE_ESTABLISHED && op != PASSIVE_ESTABLISHED) return 1;
//! key = { netns_cookie(ctx), local ip, remote ip (v4 as ::ffff:a.b.c.d), ports };
//! st = sk_storage_get(&sk_state, ctx->sk, 0, F_CREATE);   // "may redirect"
//! if (st && *st != 0) return 1;      // already handled (program attached twice)
//! if (st) *st = IN_MAP;
//! if (!st || sock_hash_update(ctx, &sock_hash, &key, BPF_NOEXIST)) failures++;
//! else added++;
//! return 1;
//! ```
//! The per-socket storage is created before the socket enters the map: the
//! sk_msg program runs only for sockets in the map and treats a socket
//! without storage as "stay on TCP".

use super::counters::Counter;
use super::key::*;
use super::*;

/// bpf_sock_ops field offsets (include/uapi/linux/bpf.h).
pub mod ctx {
    pub const OP: i16 = 0;
    pub const FAMILY: i16 = 20;
    pub const REMOTE_IP4: i16 = 24;
    pub const LOCAL_IP4: i16 = 28;
    pub const REMOTE_IP6: i16 = 32;
    pub const LOCAL_IP6: i16 = 48;
    /// Network byte order, as a u32 (so `be32` gives the port).
    pub const REMOTE_PORT: i16 = 64;
    /// Host byte order.
    pub const LOCAL_PORT: i16 = 68;
    pub const SK: i16 = 184;
    pub const ADDRS: super::CtxAddrs = super::CtxAddrs {
        name: "bpf_sock_ops",
        family: FAMILY,
        remote_ip4: REMOTE_IP4,
        local_ip4: LOCAL_IP4,
        remote_ip6: REMOTE_IP6,
        local_ip6: LOCAL_IP6,
        remote_port: REMOTE_PORT,
        local_port: LOCAL_PORT,
    };
}

pub const BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: i32 = 4;
pub const BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: i32 = 5;

pub const NAME: &str = "sockasm_sockops";

pub fn program() -> Result<Builtin, AsmError> {
    let mut b = Builder::new();
    let k = STACK_KEY;
    b.push(Alu::Mov.reg(R6, R1));
    b.ctx_load(Size::W, R2, R6, ctx::OP, "bpf_sock_ops.op");
    b.push(Jmp::Jeq.imm(R2, BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB, "established"));
    b.push(Jmp::Jne.imm(R2, BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB, "out"));
    b.label("established");
    b.build_key(R6, &ctx::ADDRS, false, "out");

    // Mark the socket as allowed to redirect, before it can be looked up.
    b.ctx_load(Size::DW, R2, R6, ctx::SK, "bpf_sock_ops.sk");
    b.push(Jmp::Jeq.imm(R2, 0, "failed"));
    b.note(ld_map(R1, MAP_SK_STATE), format!("map {MAP_SK_STATE}"));
    b.push(Alu::Mov.imm(R3, 0));
    b.push(Alu::Mov.imm(R4, BPF_SK_STORAGE_GET_F_CREATE));
    b.push(call(helper::SK_STORAGE_GET));
    b.push(Jmp::Jeq.imm(R0, 0, "failed"));
    // A cgroup and its ancestor can both run this program for one socket.
    b.push(load(Size::DW, R1, R0, 0));
    b.push(Jmp::Jne.imm(R1, 0, "out"));
    b.push(store_imm(Size::DW, R0, 0, STATE_IN_MAP));

    b.push(Alu::Mov.reg(R1, R6));
    b.note(ld_map(R2, MAP_SOCKHASH), format!("map {MAP_SOCKHASH}"));
    b.push(Alu::Mov.reg(R3, R10));
    b.push(Alu::Add.imm(R3, k as i32));
    b.push(Alu::Mov.imm(R4, BPF_NOEXIST));
    b.push(call(helper::SOCK_HASH_UPDATE));
    b.push(Jmp::Jne.imm(R0, 0, "failed"));
    b.count(Counter::SocketsAdded, None);
    b.push(ja("out"));
    // Map full or key taken: the connection simply stays on normal TCP.
    b.label("failed");
    b.count(Counter::InsertFailures, None);
    b.label("out");
    b.push(Alu::Mov.imm(R0, 1));
    b.push(exit());
    b.finish(NAME, crate::syscall::ProgType::SOCK_OPS, crate::syscall::AttachType::CGROUP_SOCK_OPS)
}
