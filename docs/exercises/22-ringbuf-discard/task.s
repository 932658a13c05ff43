# Goal: send the packet's length (__sk_buff.len) as an 8-byte record to the
# ring buffer `events` and return 1; an empty packet (len 0) sends nothing
# and returns 0, and so does a full buffer
        r6 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r1 = map_fd(events) ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out      # the buffer is full
        if r6 == 0 goto out      # nothing to send
        *(u64 *)(r0 + 0) = r6
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
        r0 = 1
        exit
out:
        r0 = 0
        exit
