# Solution: a kfunc's arguments are checked against its BTF prototype, and
# bpf_iter_num_new wants a struct bpf_iter_num: 8 bytes, a whole 8-byte
# stack slot (fp-8, fp-16, ...). fp-12 straddles two slots; fp-16 is one
        *(u32 *)(r10 - 4) = 0    # the counter
        r1 = r10
        r1 += -16                # the iterator: the slot below the counter's
        r2 = 0
        r3 = 100
        call kfunc(bpf_iter_num_new)
next:
        r1 = r10
        r1 += -16
        call kfunc(bpf_iter_num_next)
        if r0 == 0 goto done
        r1 = *(u32 *)(r0 + 0)
        r1 %= 3
        if r1 != 0 goto next
        r1 = *(u32 *)(r10 - 4)
        r1 += 1
        *(u32 *)(r10 - 4) = r1
        goto next
done:
        r1 = r10
        r1 += -16
        call kfunc(bpf_iter_num_destroy)
        r0 = *(u32 *)(r10 - 4)
        exit
