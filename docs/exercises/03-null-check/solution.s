# Solution: after a lookup, compare r0 with 0 before loading through it
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
        if r0 == 0 goto out              # r0 = 0 is also the return value on this path
        r0 = *(u64 *)(r0 + 0)            # here r0 is map_value: the load is allowed
out:
        exit
