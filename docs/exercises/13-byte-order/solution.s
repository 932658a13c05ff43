# Solution: be16 turns the network-order u16 into a number (ntohs)
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 14
        r0 = 2
        if r4 > r3 goto out
        r5 = *(u16 *)(r2 + 12)
        r5 = be16 r5             # 0x0008 -> 0x0800
        if r5 != 0x0800 goto out
        r0 = 1
out:
        exit
