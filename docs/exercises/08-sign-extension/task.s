# Goal: return 1 if the signed byte at packet offset 0 is negative, else 2
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 1
        r0 = 0
        if r4 > r3 goto out
        r0 = 2
        r5 = *(u8 *)(r2 + 0)
        if r5 s>= 0 goto out
        r0 = 1
out:
        exit
