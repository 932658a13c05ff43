# Solution: keep r1 as it is and put each field's offset into its load,
# which the verifier rewrites to the kernel's sk_buff layout
        r0 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r2 = *(u32 *)(r1 + 16)   # __sk_buff.protocol
        r0 += r2
        exit
