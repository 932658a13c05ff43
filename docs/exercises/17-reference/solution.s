# Solution: a socket the lookup found is a reference: give it back with
# bpf_sk_release on every path before exit (a NULL result holds none)
        *(u64 *)(r10 - 16) = 0   # struct bpf_sock_tuple.ipv4: saddr, daddr
        *(u32 *)(r10 - 8) = 0    # sport, dport
        r2 = r10
        r2 += -16
        r3 = 12                  # sizeof(tuple.ipv4)
        r4 = -1                  # BPF_F_CURRENT_NETNS
        r5 = 0
        call bpf_sk_lookup_tcp
        if r0 == 0 goto none
        r1 = r0                  # the reference, to release
        call bpf_sk_release
        r0 = 2
        exit
none:
        r0 = 1
        exit
