# bit 32 and bit 0 set; the test run reports only the low 32 bits
        r0 = 0x100000001 ll
        exit
