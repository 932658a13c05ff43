# Solution: a reservation is a reference: every path that got one must give
# it back, with bpf_ringbuf_submit (send it) or bpf_ringbuf_discard (drop
# it: the reader skips it). Testing the length before the reserve works too
        r6 = *(u32 *)(r1 + 0)    # __sk_buff.len
        r1 = map_fd(events) ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out      # the buffer is full
        if r6 == 0 goto drop     # nothing to send
        *(u64 *)(r0 + 0) = r6
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
        r0 = 1
        exit
drop:
        r1 = r0                  # the reservation, unused
        r2 = 0
        call bpf_ringbuf_discard
out:
        r0 = 0
        exit
