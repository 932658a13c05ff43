# read packet byte 0 zero- and sign-extended, store both back as u64; an ST of an immediate
        r2 = *(u32 *)(r1 + 0)   # xdp_md.data (context load, rewritten by the verifier)
        r3 = *(u32 *)(r1 + 4)   # xdp_md.data_end
        r4 = r2
        r4 += 32
        r0 = 1                  # XDP_DROP if the packet is shorter than 32 bytes
        if r4 > r3 goto out     # the bounds check that makes r2 + 0..31 readable
        r5 = *(u8 *)(r2 + 0)    # 0xfe zero-extended: 254
        *(u64 *)(r2 + 8) = r5
        r5 = *(s8 *)(r2 + 0)    # 0xfe sign-extended: -2 (cpu v4, LDX MEMSX)
        *(u64 *)(r2 + 16) = r5
        *(u32 *)(r2 + 24) = -2  # ST W: the low 32 bits of the imm
        *(u16 *)(r2 + 28) = r5  # STX H: the low 16 bits of r5
        r0 = 2                  # XDP_PASS
out:
        exit
