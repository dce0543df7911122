(* Membership under an equality that is given as an argument.  Every example looks for 0, so the
   smallest program tests whether an element is 0 and ignores both the key and the equality;
   arguments are there to be used, and the synthesiser prefers a program that uses them all. *)
type nat =
  | Z
  | S of nat

type list =
  | Nil
  | Cons of nat * list

type bool =
  | True
  | False

let rec list_member : (nat -> nat -> bool) -> nat -> list -> bool |>
  /\(0 -> 0 -> True, 0 -> 1 -> False, 0 -> 2 -> False) ->
  0 -> /\([] -> False, [0] -> True, [1] -> False, [1; 0] -> True, [2; 1] -> False) = ?
