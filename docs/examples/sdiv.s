# cpu v4: signed divide and modulo, movsx; 64-bit results stored into the packet
        r2 = *(u32 *)(r1 + 0)   # xdp_md.data
        r3 = *(u32 *)(r1 + 4)   # xdp_md.data_end
        r4 = r2
        r4 += 32
        r0 = 1                  # XDP_DROP if the packet is shorter than 32 bytes
        if r4 > r3 goto out
        r5 = -13
        r6 = r5
        r6 s/= 3                # -4: truncates toward zero
        *(u64 *)(r2 + 0) = r6
        r6 = r5
        r6 s%= 3                # -1: takes the sign of the dividend
        *(u64 *)(r2 + 8) = r6
        r6 = r5
        r6 /= 3                 # unsigned: 0xfffffffffffffff3 / 3 = 0x5555555555555551
        *(u64 *)(r2 + 16) = r6
        r6 = 0x180
        r6 = (s8)r6             # low byte 0x80 sign-extended: -128
        *(u64 *)(r2 + 24) = r6
        r0 = 2                  # XDP_PASS
out:
        exit
