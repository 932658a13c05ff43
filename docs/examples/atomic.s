# atomics on the stack slot r10 - 8; r0 = old(fetch_add) << 24 | old(xchg) << 16 | r0 after a failed cmpxchg << 8 | final slot
        *(u64 *)(r10 - 8) = 10
        r1 = 5
        r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)  # r1 = 10 (old value), slot = 15
        r2 = 100
        r2 = xchg_64(r10 - 8, r2)                    # r2 = 15 (old value), slot = 100
        r3 = 200
        r0 = 7
        r0 = cmpxchg_64(r10 - 8, r0, r3)             # 100 != 7: no store; r0 = 100 (old value)
        r4 = r0
        r0 = cmpxchg_64(r10 - 8, r0, r3)             # 100 == 100: slot = 200; r0 = 100
        r5 = *(u64 *)(r10 - 8)                       # 200
        r0 = r1
        r0 <<= 8
        r0 |= r2
        r0 <<= 8
        r0 |= r4
        r0 <<= 8
        r0 |= r5
        exit
