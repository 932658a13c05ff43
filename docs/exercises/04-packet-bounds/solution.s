# Solution: reading byte 20 needs 21 bytes, 0..20, proven
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 21                 # data + 21 <= data_end: bytes 0..20 are in the packet
        r0 = 0
        if r4 > r3 goto out
        r0 = *(u8 *)(r2 + 20)
out:
        exit
