# lddw carries a full 64-bit constant; a plain mov only a sign-extended 32-bit imm
        r0 = 0x1122334455667788 ll  # two slots: imm = 0x55667788, next_imm = 0x11223344
        r0 >>= 32                   # 0x11223344
        r1 = 0xffffffff             # assembled as r1 = -1: all 64 bits set
        r1 >>= 32                   # 0xffffffff
        r2 = 0xffffffff ll          # 0x00000000ffffffff
        r2 >>= 32                   # 0
        r0 ^= r1                    # 0x11223344 ^ 0xffffffff = 0xeeddccbb
        r0 ^= r2                    # unchanged
        exit
