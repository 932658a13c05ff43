# Goal: r0 = 7, plus 0x100000001 when the packet has 100 bytes or more
        r0 = 0
        r2 = *(u32 *)(r1 + 0)    # __sk_buff.len
        if r2 < 100 goto +1      # skip the lddw and the add
        r3 = 0x100000001 ll
        r0 += r3
        r0 += 7
        exit
