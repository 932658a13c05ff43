# a hash lookup returns a value pointer or NULL; the check splits the two
        *(u32 *)(r10 - 4) = 0
        r1 = map_fd(counters) ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)
out:
        exit
