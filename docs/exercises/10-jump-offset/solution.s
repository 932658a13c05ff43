# Solution: the jump skips three slots, the lddw's two and the add
# (a label, `goto short`, lets the assembler count)
        r0 = 0
        r2 = *(u32 *)(r1 + 0)    # __sk_buff.len
        if r2 < 100 goto +3      # slot 2 -> 2 + 1 + 3 = slot 6
        r3 = 0x100000001 ll      # slots 3 and 4
        r0 += r3                 # slot 5
        r0 += 7                  # slot 6
        exit
