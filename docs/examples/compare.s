# unsigned vs signed compares, JMP vs JMP32, and a BPF-to-BPF call; r6 collects one bit per taken jump
        r6 = 0
        r1 = -1
        r2 = 1
        if r1 > r2 goto ugt     # unsigned: 0xffffffffffffffff > 1, taken
        goto s
ugt:
        r6 |= 1
s:
        if r1 s> r2 goto sgt    # signed: -1 > 1 is false, not taken
        goto j32
sgt:
        r6 |= 2
j32:
        r3 = 0x100000000 ll
        if w3 == 0 goto low0    # JMP32 compares the low halves: taken
        goto j64
low0:
        r6 |= 4
j64:
        if r3 == 0 goto all0    # JMP compares all 64 bits: not taken
        goto done
all0:
        r6 |= 8
done:
        r1 = r6
        call add_0x100          # r1-r5 are arguments, the result comes back in r0
        exit
add_0x100:
        r0 = r1
        r0 += 0x100
        exit
