# Goal: store 7 on the stack, load it back, return it
        *(u64 *)(r10 + 0) = 7
        r0 = *(u64 *)(r10 + 0)
        exit
