# Solution: bpf_ringbuf_reserve returns NULL when the buffer has no room
# (ringbuf_mem_or_null): only after a check is it memory the program may
# write, and only then does the program hold a reservation to submit
        r6 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r1 = map_fd(events) ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto full
        *(u64 *)(r0 + 0) = r6
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
        r0 = 1
        exit
full:
        r0 = 0
        exit
