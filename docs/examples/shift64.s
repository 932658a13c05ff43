# a constant shift amount must be below 64 (32 for w registers)
        r0 = 1
        r0 <<= 64
        exit
