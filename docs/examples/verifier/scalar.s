# bounds and known bits: r2 starts as any u32; masks, shifts and a compare narrow it
        r0 = 0
        r2 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r2 &= 0xf0               # only bits 4-7 may be set
        r2 |= 3                  # bits 0 and 1 are set
        r2 >>= 2
        if r2 > 40 goto out
        r0 = r2
out:
        exit
