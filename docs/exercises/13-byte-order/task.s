# Goal: return 1 for an IPv4 frame (EtherType 0x0800), else 2
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 14
        r0 = 2
        if r4 > r3 goto out
        r5 = *(u16 *)(r2 + 12)
        if r5 != 0x0800 goto out
        r0 = 1
out:
        exit
