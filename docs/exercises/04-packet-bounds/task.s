# Goal: return packet byte 20, or 0 if the packet is shorter
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 20
        r0 = 0
        if r4 > r3 goto out
        r0 = *(u8 *)(r2 + 20)
out:
        exit
