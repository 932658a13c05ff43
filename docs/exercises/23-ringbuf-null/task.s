# Goal: write the packet's length (__sk_buff.len) into an 8-byte record of
# the ring buffer `events`, submit it and return 1 (0 if the buffer is full)
        r6 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r1 = map_fd(events) ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        *(u64 *)(r0 + 0) = r6
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
        r0 = 1
        exit
