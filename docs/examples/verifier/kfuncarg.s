# the same kfunc with the wrong argument: a pointer to the stack, not the context
        *(u64 *)(r10 - 8) = 0
        r1 = r10
        r1 += -8
        call kfunc(bpf_cast_to_kern_ctx)
        r0 = 1
        exit
