use super::*;
use crate::syscall::{
    AttachType, BPF_F_ALLOW_MULTI, BPF_F_QUERY_EFFECTIVE, ProgSpec, ProgType, attach_cgroup, detach_cgroup,
    insns_from_u64, prog_info, query_cgroup, query_cgroup_full,
};

/// Root, or the test fails (see `root_or_skip`).
fn root() -> bool {
    crate::syscall::testutil::root_or_skip()
}

#[test]
fn mountinfo_parsing() {
    let mi = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
              41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n\
              50 31 0:40 / /sys/fs/cgroup/my\\040dir rw shared:5 - cgroup2 none rw\n";
    assert_eq!(find_mount(mi, "cgroup2"), Some(PathBuf::from("/sys/fs/cgroup/unified")));
    assert_eq!(find_mount(mi, "bpf"), None);
    assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
    let only = "50 31 0:40 / /x\\040y rw shared:5 - cgroup2 none rw\n";
    assert_eq!(find_mount(only, "cgroup2"), Some(PathBuf::from("/x y")));
}

#[test]
fn cgroup2_mount_found() {
    let m = cgroup2_mount().unwrap();
    assert!(is_cgroup2(&m), "{}", m.display());
    assert!(Cgroup::open(&m).is_ok());
    let e = Cgroup::open("/tmp").unwrap_err();
    let s = e.to_string();
    assert!(s.contains("not a cgroup2 directory: /tmp") && s.contains(&m.display().to_string()), "{s}");
    assert!(Cgroup::open("/nonexistent/sockasm").is_err());
}

#[test]
fn temp_cgroup_lifecycle() {
    if !root() {
        return;
    }
    let path;
    {
        let mut cg = TempCgroup::create("sockasm-test").unwrap();
        path = cg.path().to_path_buf();
        assert!(path.is_dir());
        assert_eq!(path.parent().unwrap(), cgroup2_mount().unwrap());
        assert!(cg.pids().unwrap().is_empty());
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        struct Kill(std::process::Child);
        impl Drop for Kill {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let pid = child.id();
        let before = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let guard = Kill(std::mem::replace(&mut child, std::process::Command::new("true").spawn().unwrap()));
        let _ = child.wait();
        cg.add_pid(pid).unwrap();
        assert_eq!(cg.pids().unwrap(), vec![pid]);
        drop(cg);
        // moved back where it was, cgroup gone
        let after = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert_eq!(before, after);
        drop(guard);
    }
    assert!(!path.exists());
}

#[test]
fn sock_ops_attach_query_detach() {
    if !root() {
        return;
    }
    let cg = TempCgroup::create("sockasm-test-sockops").unwrap();
    assert_ne!(cg.path(), cgroup2_mount().unwrap());
    assert!(!cg.cgroup().is_mount_root());
    assert!(Cgroup::open(cgroup2_mount().unwrap()).unwrap().is_mount_root());
    // r0 = 1; exit
    let insns = insns_from_u64(&[0x0000_0001_0000_00b7, 0x95]);
    let p = ProgSpec::new(ProgType::SOCK_OPS, "sockasm_sops", &insns).load().unwrap();
    let p2 = ProgSpec::new(ProgType::SOCK_OPS, "sockasm_sops2", &insns).load().unwrap();
    let id = prog_info(p.fd()).unwrap().id;
    let id2 = prog_info(p2.fd()).unwrap().id;

    struct Detach<'a>(&'a crate::syscall::LoadedProg, BorrowedFd<'a>);
    impl Drop for Detach<'_> {
        fn drop(&mut self) {
            let _ = detach_cgroup(self.0.fd(), self.1, AttachType::CGROUP_SOCK_OPS);
        }
    }
    assert!(query_cgroup(cg.fd(), AttachType::CGROUP_SOCK_OPS).unwrap().is_empty());
    attach_cgroup(p.fd(), cg.fd(), AttachType::CGROUP_SOCK_OPS, BPF_F_ALLOW_MULTI).unwrap();
    let g1 = Detach(&p, cg.fd());
    attach_cgroup(p2.fd(), cg.fd(), AttachType::CGROUP_SOCK_OPS, BPF_F_ALLOW_MULTI).unwrap();
    let g2 = Detach(&p2, cg.fd());

    let q = query_cgroup_full(cg.fd(), AttachType::CGROUP_SOCK_OPS, 0).unwrap();
    assert_eq!(q.prog_ids, vec![id, id2]);
    assert_eq!(q.attach_flags, BPF_F_ALLOW_MULTI);
    assert!(q.prog_attach_flags.is_empty() || q.prog_attach_flags == vec![BPF_F_ALLOW_MULTI; 2], "{q:?}");
    let eff = query_cgroup_full(cg.fd(), AttachType::CGROUP_SOCK_OPS, BPF_F_QUERY_EFFECTIVE).unwrap();
    assert!(eff.prog_ids.contains(&id) && eff.prog_ids.contains(&id2), "{eff:?}");

    detach_cgroup(p.fd(), cg.fd(), AttachType::CGROUP_SOCK_OPS).unwrap();
    std::mem::forget(g1);
    assert_eq!(query_cgroup(cg.fd(), AttachType::CGROUP_SOCK_OPS).unwrap(), vec![id2]);
    let e = detach_cgroup(p.fd(), cg.fd(), AttachType::CGROUP_SOCK_OPS).unwrap_err();
    assert_eq!(e.errno(), Some(nix::errno::Errno::ENOENT), "{e}");
    drop(g2);
    assert!(query_cgroup(cg.fd(), AttachType::CGROUP_SOCK_OPS).unwrap().is_empty());
}

#[test]
fn temp_pin_dir_cleans_up() {
    if !root() {
        return;
    }
    let path;
    {
        let d = TempPinDir::create("sockasm-test-dir").unwrap();
        path = d.path().to_path_buf();
        assert!(is_bpffs(&path));
        assert!(!ensure_bpffs(BPFFS_DEFAULT).unwrap());
        std::fs::create_dir(d.join("sub")).unwrap();
    }
    assert!(!path.exists());
}
