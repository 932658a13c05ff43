# Solution: reading byte 12 needs 13 bytes, 0..12, proven
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 13                 # data + 13 <= data_end: bytes 0..12 are in the packet
        r0 = 0
        if r4 > r3 goto out
        r0 = *(u8 *)(r2 + 12)
out:
        exit
