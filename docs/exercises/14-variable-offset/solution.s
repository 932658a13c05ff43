# Solution: mask the index first; the verifier then knows r6 is fp-8 + 0..7
        r2 = *(u32 *)(r1 + 0)    # xdp_md.data
        r3 = *(u32 *)(r1 + 4)    # xdp_md.data_end
        r4 = r2
        r4 += 1
        r0 = 0
        if r4 > r3 goto out
        r6 = 0x0807060504030201 ll
        *(u64 *)(r10 - 8) = r6   # table[i] = i + 1, little-endian
        r5 = *(u8 *)(r2 + 0)
        r5 &= 7                  # var_off=(0x0; 0x7): 0..7
        r6 = r10
        r6 += -8
        r6 += r5
        r0 = *(u8 *)(r6 + 0)
out:
        exit
