# read byte 14, after a check that proves only 14 bytes (0-13)
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 14
        if r4 > r3 goto short    # fewer than 14 bytes
        r0 = *(u8 *)(r2 + 14)    # byte 14: one past what the check proved
        exit
short:
        r0 = 0
        exit
