# a bounded index survives a helper call on the stack, then picks a byte of a map value
        r3 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r3 &= 7
        *(u64 *)(r10 - 16) = r3  # spill: the slot keeps r3's bounds
        *(u32 *)(r10 - 4) = 0
        r1 = map_fd(table) ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem # r1-r5 are lost across a call
        if r0 == 0 goto out
        r3 = *(u64 *)(r10 - 16)  # fill: r3 is back, bounds and all
        r0 += r3                 # a pointer plus a scalar in 0..7
        r0 = *(u8 *)(r0 + 0)
out:
        exit
