# le/be/bswap on 0x1122334455667788; each 64-bit result stored little-endian into the packet
        r2 = *(u32 *)(r1 + 0)   # xdp_md.data
        r3 = *(u32 *)(r1 + 4)   # xdp_md.data_end
        r4 = r2
        r4 += 32
        r0 = 1                  # XDP_DROP if the packet is shorter than 32 bytes
        if r4 > r3 goto out
        r5 = 0x1122334455667788 ll
        r6 = r5
        r6 = le32 r6            # little-endian host: truncate to 0x55667788
        *(u64 *)(r2 + 0) = r6
        r6 = r5
        r6 = be16 r6            # swap the low 16 bits, clear the rest: 0x8877
        *(u64 *)(r2 + 8) = r6
        r6 = r5
        r6 = be64 r6            # 0x8877665544332211
        *(u64 *)(r2 + 16) = r6
        r6 = r5
        r6 = bswap32 r6         # swaps whatever the host order: 0x88776655
        *(u64 *)(r2 + 24) = r6
        r0 = 2                  # XDP_PASS
out:
        exit
