# socket filter: return 0 (drop) for packets over 1500 bytes, else len & 63, through a stack slot
        r0 = 0
        r2 = *(u32 *)(r1 + 0)    # __sk_buff.len
        if r2 > 1500 goto out
        r2 &= 63
        *(u64 *)(r10 - 8) = r2
        r0 = *(u64 *)(r10 - 8)
out:
        exit
