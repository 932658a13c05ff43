# Solution: s/= divides signed (cpu v4, Linux 6.6): -18 s/ 3 = -6
        r0 = -9
        r0 += -3
        r0 += -6                 # -18
        r0 s/= 3
        exit
