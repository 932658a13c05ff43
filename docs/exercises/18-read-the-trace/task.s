# Goal: return the u32 at bytes 30-33 of the packet (little-endian), or 0
# when the packet is shorter than 34 bytes
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 32
        if r4 > r3 goto short
        r0 = *(u32 *)(r2 + 30)
        exit
short:
        r0 = 0
        exit
