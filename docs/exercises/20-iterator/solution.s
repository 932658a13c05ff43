# Solution: bpf_iter_num_new makes the iterator a reference (refs=1 in the
# trace), like a socket from a lookup; bpf_iter_num_destroy releases it, and
# every path must do that before exit, the drained one included
        r6 = 0
        r1 = r10
        r1 += -8                 # the iterator: 8 bytes on the stack
        r2 = 1
        r3 = 6                   # [1, 6)
        call kfunc(bpf_iter_num_new)
next:
        r1 = r10
        r1 += -8
        call kfunc(bpf_iter_num_next)
        if r0 == 0 goto done
        r1 = *(u32 *)(r0 + 0)
        r1 *= r1
        r6 += r1
        goto next
done:
        r1 = r10
        r1 += -8
        call kfunc(bpf_iter_num_destroy)
        r0 = r6
        exit
