(* Products: exchange the components of a pair (POPL 2016 example syntax). *)
type nat =
  | Z
  | S of nat

let pair_swap : nat * nat -> nat * nat |>
  /\((0, 1) -> (1, 0),
     (2, 0) -> (0, 2),
     (1, 1) -> (1, 1)) = ?
