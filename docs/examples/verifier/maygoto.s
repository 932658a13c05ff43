# may_goto: a loop with no bound the verifier can see
        r0 = 0
loop:
        r0 += 1
        may_goto out
        goto loop
out:
        r0 = 0
        exit
