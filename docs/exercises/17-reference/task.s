# Goal: look up a TCP socket for an all-zero IPv4 tuple; return 2 if found, 1 if not
        *(u64 *)(r10 - 16) = 0   # struct bpf_sock_tuple.ipv4: saddr, daddr
        *(u32 *)(r10 - 8) = 0    # sport, dport
        r2 = r10
        r2 += -16
        r3 = 12                  # sizeof(tuple.ipv4)
        r4 = -1                  # BPF_F_CURRENT_NETNS
        r5 = 0
        call bpf_sk_lookup_tcp
        if r0 == 0 goto none
        r0 = 2
        exit
none:
        r0 = 1
        exit
