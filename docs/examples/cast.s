# addr_space_cast (Linux 6.9) needs an arena map in the program: 1 -> 0 keeps the low 32 bits
        r1 = map_fd(arena) ll
        r2 = 0x123456789 ll
        r3 = addr_space_cast(r2, 0, 1)
        w0 = w3
        exit
