# legacy packet loads: r6 = skb, result in r0, converted from network order
        r6 = r1
        r0 = *(u16 *)skb[0]      # bytes 0-1 of what the program sees -> 0x1234
        r7 = r0                  # r1-r5 are clobbered; r7 survives
        r7 <<= 8
        r2 = 1
        r0 = *(u8 *)skb[r2 + 1]  # byte 2 -> 0x56; past the end: the program returns 0 at once
        r0 |= r7
        exit
