//! Pairing by proof (the connection's initial sequence numbers and the
//! socket's role): pods on a veth and on a bridge, a DNAT'd "Service"
//! address, namespaces that use the same addresses, and a TCP_REPAIR socket.
//! Every namespace, link and rule is the test's own and goes with it; the
//! addresses (10.203.x.x, 10.96.0.10) exist only inside those namespaces.

use std::process::{Command, Stdio};

use super::kernel::harness::{Env, show};
use super::kernel::json::Field;
use super::kernel::kernel_ok;

const MIB: u64 = 1 << 20;

pub fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).stdin(Stdio::null()).output().expect("run ip");
    assert!(o.status.success(), "ip {}: {}", args.join(" "), show(&o));
}

/// A veth pair from `a` (address `addr_a`, /24) to `b` (`addr_b`).
pub fn veth(a: &str, addr_a: &str, b: &str, addr_b: &str) {
    ip(&["-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", b]);
    for (ns, addr) in [(a, addr_a), (b, addr_b)] {
        ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", "veth0"]);
        ip(&["-n", ns, "link", "set", "veth0", "up"]);
    }
}

/// Bytes sent on `dev` in `ns` (its TX counter).
fn tx_bytes(ns: &str, dev: &str) -> u64 {
    let p = format!("/sys/class/net/{dev}/statistics/tx_bytes");
    let o = Command::new("ip").args(["netns", "exec", ns, "cat", &p]).stdin(Stdio::null()).output().expect("run ip");
    assert!(o.status.success(), "{}", show(&o));
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Echo of `conns` connections of `bytes` each from a client in `client_ns`
/// to a server in `server_ns` listening on `listen`, reached at `connect`
/// (host:port, or just host to take the server's port). Returns the bytes
/// the client got back.
fn echo(env: &Env, server_ns: &str, listen: &str, client_ns: &str, connect: &str, bytes: u64, tag: &str) -> u64 {
    let conns = 2u64;
    let (mut srv, port) = env.server(
        true,
        Some(server_ns),
        &["--listen", listen, "--conns", &conns.to_string(), "--reader", "epoll-lt", "--expect-tag", tag],
    );
    let target = if connect.contains(':') { connect.to_string() } else { format!("{connect}:{port}") };
    let c = env
        .client(
            true,
            Some(client_ns),
            &[
                "--connect",
                &target,
                "--conns",
                &conns.to_string(),
                "--concurrent",
                &conns.to_string(),
                "--bytes",
                &bytes.to_string(),
                "--write-size",
                "65536",
                "--half-close",
                "--tag",
                tag,
            ],
        )
        .finish();
    let sv = srv.finish();
    assert_eq!(sv.u64("bytes_in"), conns * bytes, "{sv}");
    assert_eq!(sv.u64("distinct_streams"), conns, "{sv}");
    c.u64("bytes_received")
}

/// A client and a server in two namespaces joined by a veth pair: the
/// sockets pair by their sequence numbers, the bytes are redirected, and the
/// veth carries little more than the handshakes.
#[test]
fn kernel_pairs_across_namespaces_over_veth() {
    if !kernel_ok() {
        return;
    }
    let mut env = Env::new();
    let (a, b) = (env.add_netns(), env.add_netns());
    veth(&a, "10.203.1.1", &b, "10.203.1.2");
    env.load(&[]);
    let bytes = 8 * MIB;
    let before = env.counters();
    let tx_before = tx_bytes(&a, "veth0");
    let got = echo(&env, &b, "10.203.1.2:0", &a, "10.203.1.2", bytes, "veth");
    let d = env.counters().since(&before);
    let tx = tx_bytes(&a, "veth0") - tx_before;
    eprintln!("[veth] counters {d:?}; client veth sent {tx} bytes");
    assert_eq!(got, 2 * bytes);
    assert_eq!(d.sockets_added, 4, "{d:?}");
    assert_eq!((d.tcp_no_peer, d.tcp_peer_stale, d.tcp_other_netns), (0, 0, 0), "every socket found its peer: {d:?}");
    assert!(d.redirected_bytes >= 4 * bytes, "both directions redirected: {d:?}");
    assert!(tx < bytes / 16, "the veth carried {tx} bytes of {}: the stack was not skipped", 2 * bytes);

    // --same-netns-only: the same traffic stays on TCP, and says why.
    env.load(&["--same-netns-only"]);
    assert!(env.status().bool("policy.same_netns"), "{}", env.status());
    let before = env.counters();
    let got = echo(&env, &b, "10.203.1.2:0", &a, "10.203.1.2", MIB, "veth-same");
    let d = env.counters().since(&before);
    eprintln!("[veth, same netns only] counters {d:?}");
    assert_eq!(got, 2 * MIB);
    assert_eq!(d.redirected_msgs, 0, "{d:?}");
    assert!(d.tcp_other_netns >= 2, "{d:?}");
}

/// Two "pods" on a bridge in a third namespace, and a "Service" address the
/// client's namespace DNATs to the server (as kube-proxy does): the keys
/// still mirror, and every byte is redirected to the right socket.
#[test]
fn kernel_pairs_over_a_bridge_and_through_dnat() {
    if !kernel_ok() {
        return;
    }
    let mut env = Env::new();
    let (node, p1, p2) = (env.add_netns(), env.add_netns(), env.add_netns());
    ip(&["-n", &node, "link", "add", "br0", "type", "bridge"]);
    ip(&["-n", &node, "link", "set", "br0", "up"]);
    for (i, (pod, addr)) in [(&p1, "10.203.2.2"), (&p2, "10.203.2.3")].into_iter().enumerate() {
        let port = format!("port{i}");
        ip(&["-n", pod, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns", &node]);
        ip(&["-n", &node, "link", "set", &port, "master", "br0", "up"]);
        ip(&["-n", pod, "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        ip(&["-n", pod, "link", "set", "eth0", "up"]);
    }
    env.load(&[]);
    let before = env.counters();
    let got = echo(&env, &p2, "10.203.2.3:0", &p1, "10.203.2.3", 4 * MIB, "bridge");
    let d = env.counters().since(&before);
    eprintln!("[bridge] counters {d:?}");
    assert_eq!(got, 8 * MIB);
    assert_eq!((d.tcp_no_peer, d.tcp_peer_stale), (0, 0), "{d:?}");
    assert!(d.redirected_bytes >= 16 * MIB, "{d:?}");

    // A ClusterIP-style address, DNAT'd in the client's namespace (routed
    // out of the pod first, as a cluster's default route would).
    ip(&["-n", &p1, "route", "add", "10.96.0.0/12", "dev", "eth0"]);
    let (mut srv, port) = env.server(
        true,
        Some(&p2),
        &["--listen", "10.203.2.3:0", "--conns", "2", "--reader", "epoll-lt", "--expect-tag", "dnat"],
    );
    let dnat = Command::new("ip")
        .args(["netns", "exec", &p1, "iptables", "-t", "nat", "-A", "OUTPUT", "-d", "10.96.0.10/32", "-p", "tcp"])
        .args(["--dport", "80", "-j", "DNAT", "--to-destination", &format!("10.203.2.3:{port}")])
        .stdin(Stdio::null())
        .output()
        .expect("run iptables");
    if !dnat.status.success() {
        // Not silent: the rest of the test ran; this part needs netfilter's NAT.
        crate::verify_run::skip_note(&format!(
            "SKIPPED the DNAT part of kernel_pairs_over_a_bridge_and_through_dnat: {}",
            show(&dnat)
        ));
        return;
    }
    let before = env.counters();
    let c = env
        .client(
            true,
            Some(&p1),
            &[
                "--connect",
                "10.96.0.10:80",
                "--conns",
                "2",
                "--concurrent",
                "2",
                "--bytes",
                &(4 * MIB).to_string(),
                "--half-close",
                "--tag",
                "dnat",
            ],
        )
        .finish();
    let sv = srv.finish();
    let d = env.counters().since(&before);
    eprintln!("[dnat] {c}\n  counters {d:?}");
    assert_eq!(sv.u64("bytes_in"), 8 * MIB, "{sv}");
    assert_eq!(d.sockets_added, 4, "{d:?}");
    assert_eq!((d.tcp_no_peer, d.tcp_peer_stale), (0, 0), "{d:?}");
    assert!(d.redirected_bytes >= 8 * MIB, "{d:?}");
}

/// Two pairs of namespaces that use the same addresses and ports on their
/// own links, at the same time: each server gets only its own client's
/// stream (its tag), so nothing crosses between them.
#[test]
fn kernel_overlapping_addresses_never_cross() {
    if !kernel_ok() {
        return;
    }
    let mut env = Env::new();
    let pairs = [(env.add_netns(), env.add_netns()), (env.add_netns(), env.add_netns())];
    for (a, b) in &pairs {
        veth(a, "10.203.3.1", b, "10.203.3.2");
    }
    env.load(&[]);
    let before = env.counters();
    let bytes = 4 * MIB;
    let mut servers = Vec::new();
    for (i, (_, b)) in pairs.iter().enumerate() {
        let tag = format!("overlap-{i}");
        let (w, port) = env.server(
            true,
            Some(b),
            &["--listen", "10.203.3.2:7777", "--conns", "2", "--reader", "epoll-et", "--expect-tag", &tag],
        );
        assert_eq!(port, 7777);
        servers.push(w);
    }
    let mut clients: Vec<_> = pairs
        .iter()
        .enumerate()
        .map(|(i, (a, _))| {
            let tag = format!("overlap-{i}");
            env.client(
                true,
                Some(a),
                &[
                    "--connect",
                    "10.203.3.2:7777",
                    "--conns",
                    "2",
                    "--concurrent",
                    "2",
                    "--bytes",
                    &bytes.to_string(),
                    "--half-close",
                    "--tag",
                    &tag,
                ],
            )
        })
        .collect();
    for c in &mut clients {
        assert_eq!(c.finish().u64("bytes_received"), 2 * bytes);
    }
    for s in &mut servers {
        let r = s.finish();
        assert_eq!(r.u64("bytes_in"), 2 * bytes, "{r}");
        assert_eq!(r.u64("distinct_streams"), 2, "{r}");
    }
    let d = env.counters().since(&before);
    eprintln!("[overlap] counters {d:?}");
    assert_eq!(d.sockets_added, 8, "{d:?}");
    assert_eq!((d.tcp_no_peer, d.tcp_peer_stale), (0, 0), "{d:?}");
    assert!(d.redirected_bytes >= 8 * bytes, "{d:?}");
}

/// A socket in TCP_REPAIR mode (its sequence numbers set by user space)
/// reaches ESTABLISHED without a handshake: it is refused, and counted.
#[test]
fn kernel_repaired_socket_is_refused() {
    if !kernel_ok() {
        return;
    }
    let env = Env::new();
    env.load(&[]);
    let before = env.counters();
    let r = env.worker(true, None, &["pair", "--scenario", "repair"]).finish();
    let d = env.counters().since(&before);
    eprintln!("[repair] {r}\n  counters {d:?}");
    assert!(r.bool("repaired"), "{r}");
    assert_eq!(d.sockets_refused_repair, 1, "{d:?}");
    // The scenario's own connected pair (made first) joins as usual.
    assert_eq!(d.sockets_added, 2, "{d:?}");
}

/// TCP Fast Open in a namespace of the test's own (tcp_fastopen=3 there):
/// the first connection fetches a cookie, the others carry data in the SYN.
/// Each connection pairs or stays on TCP; it never reaches another socket,
/// and every byte comes back.
#[test]
fn kernel_fast_open_pairs_or_stays_on_tcp() {
    if !kernel_ok() {
        return;
    }
    let mut env = Env::new();
    let ns = env.add_netns();
    let o = Command::new("ip")
        .args(["netns", "exec", &ns, "sysctl", "-qw", "net.ipv4.tcp_fastopen=3"])
        .stdin(Stdio::null())
        .output()
        .expect("run sysctl");
    if !o.status.success() {
        crate::verify_run::skip_note(&format!("SKIPPED kernel_fast_open_pairs_or_stays_on_tcp: {}", show(&o)));
        return;
    }
    env.load(&[]);
    let before = env.counters();
    let r = env
        .worker(true, Some(&ns), &["pair", "--scenario", "fastopen", "--rounds", "20", "--write-size", "3000"])
        .finish();
    let d = env.counters().since(&before);
    eprintln!("[fast open] {r}\n  counters {d:?}");
    assert_eq!(r.u64("tfo_echoed"), 20 * 3000, "{r}");
    assert_eq!(d.tcp_peer_stale, 0, "{d:?}");
    // The scenario's own pair plus two sockets per Fast Open connection.
    assert_eq!(d.sockets_added, 2 + 40, "{d:?}");
}

/// Churn: many short connections (port reuse included), each echoing its
/// own stream; every byte is checked against the connection's pattern, so a
/// byte delivered to the wrong socket fails the run.
/// SOCKASM_CHURN_CONNS=N runs N connections instead of 100,000.
#[test]
fn kernel_churn_never_misdelivers() {
    if !kernel_ok() {
        return;
    }
    let conns: u64 = std::env::var("SOCKASM_CHURN_CONNS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let env = Env::new();
    env.load(&[]);
    let before = env.counters();
    let (mut srv, port) =
        env.server(true, None, &["--listen", "127.0.0.1:0", "--conns", &conns.to_string(), "--reader", "epoll-et"]);
    let c = env
        .client(
            true,
            None,
            &[
                "--connect",
                &format!("127.0.0.1:{port}"),
                "--conns",
                &conns.to_string(),
                "--concurrent",
                "64",
                "--bytes",
                "2048",
                "--write-size",
                "2048",
                "--half-close",
                "--tag",
                "churn",
            ],
        )
        .finish();
    let sv = srv.finish();
    let d = env.counters().since(&before);
    eprintln!("[churn] {conns} connections: {c}\n  counters {d:?}");
    assert_eq!(sv.u64("distinct_streams"), conns, "{sv}");
    assert_eq!(c.u64("bytes_received"), conns * 2048, "{c}");
    assert_eq!(d.tcp_peer_stale, 0, "{d:?}");
    assert!(d.redirected_msgs >= conns, "{d:?}");
}
