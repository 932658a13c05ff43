# look up key 0 in a hash map and return its first u64, or 0
        *(u32 *)(r10 - 4) = 0
        r1 = map_fd(counters) ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out      # on the fall-through path r0 is map_value
        r0 = *(u64 *)(r0 + 0)
out:
        exit
