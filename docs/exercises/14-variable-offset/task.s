# Goal: return table[packet[0] & 7], the table being 8 bytes on the stack
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 1
        r0 = 0
        if r4 > r3 goto out
        r6 = 0x0807060504030201 ll
        *(u64 *)(r10 - 8) = r6   # table[i] = i + 1, little-endian
        r5 = *(u8 *)(r2 + 0)     # the index: 0..255 to the verifier
        r6 = r10
        r6 += -8
        r6 += r5
        r0 = *(u8 *)(r6 + 0)
out:
        exit
