# look up a TCP socket (acquire), read its state, release it
        *(u64 *)(r10 - 16) = 0   # struct bpf_sock_tuple.ipv4: saddr, daddr
        *(u32 *)(r10 - 8) = 0    # sport, dport
        r2 = r10
        r2 += -16
        r3 = 12                  # sizeof(tuple.ipv4)
        r4 = -1                  # BPF_F_CURRENT_NETNS
        r5 = 0
        call bpf_sk_lookup_tcp
        if r0 == 0 goto none
        r6 = *(u32 *)(r0 + 4)    # bpf_sock.family
        r1 = r0
        call bpf_sk_release
        r0 = r6
        exit
none:
        r0 = 0
        exit
