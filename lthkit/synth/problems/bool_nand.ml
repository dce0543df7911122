(* Not-and: false only when both inputs are true. *)
type nat =
  | O
  | S of nat

type bool =
  | True
  | False

let bool_nand : bool -> bool -> bool |>
  { True  => ( True => False | False => True )
  | False => ( True => True  | False => True ) } = ?
