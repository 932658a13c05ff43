# Goal: store 42 under key 1, look it up again, return the value (or 0)
        *(u32 *)(r10 - 4) = 1            # the key
        *(u64 *)(r10 - 16) = 42          # the value
        r1 = map_fd(counters) ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0                           # BPF_ANY
        call bpf_map_update_elem
        r1 = map_fd(counters) ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        r0 = *(u64 *)(r0 + 0)
        exit
