# reserve 8 bytes of the ring buffer `events`, fill them, submit them
        r1 = map_fd(events) ll
        r2 = 8                   # size
        r3 = 0                   # flags
        call bpf_ringbuf_reserve
        if r0 == 0 goto full     # NULL: the buffer is full
        r1 = 42
        *(u64 *)(r0 + 0) = r1    # the record
        r1 = r0                  # the reservation, to give back
        r2 = 0
        call bpf_ringbuf_submit
        r0 = 1
        exit
full:
        r0 = 0
        exit
